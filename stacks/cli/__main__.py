from stacks.cli.entry import run

run()

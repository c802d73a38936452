"""Entry point `pulumi up` runs (Pulumi.yaml: python runtime, project root)."""

from stacks.program.main import main

main()

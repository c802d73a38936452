"""Options every command that reads a stack shares, defined once."""

#: `-C`: like the `pulumi` CLI, the project is found from the current folder upwards.
PROJECT_DIR_HELP = ("project directory holding Pulumi.yaml (default: the nearest one from the "
                    "current folder up)")

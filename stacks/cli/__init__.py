"""The `hybrid-ml` command: parses arguments, calls the layers below, maps errors to exit codes."""

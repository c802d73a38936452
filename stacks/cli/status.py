"""The exit codes of every `hybrid-ml` command, defined once."""

#: Success.
EXIT_OK = 0
#: Mandatory policy violations (or, for `secrets --check`, a secret not set yet).
EXIT_POLICY = 1
#: Invalid config or usage: one line per problem, nothing written.
EXIT_USAGE = 2
#: The program failed (or the engine would refuse what it built).
EXIT_PROGRAM = 3
#: As a shell reports a process ended by SIGINT (Ctrl-C) or SIGPIPE (its reader went away).
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

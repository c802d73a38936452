"""Entry point `pulumi up` runs (Pulumi.yaml: python runtime, project root)."""

from stacks.program import main

main()

"""The Pulumi program: the only code that reads `pulumi.Config` or exports stack outputs."""

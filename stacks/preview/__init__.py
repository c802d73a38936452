"""The offline preview: the program under the SDK mocks, the plan file and its diff, manifests,
the policy pack client and reports."""

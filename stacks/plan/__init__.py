"""Pure derivations from a validated config: clusters, tunnels, namespaces, placements,
secret keys, policy config."""

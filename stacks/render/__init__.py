"""What people read: the resource tree, the platform graph, on-prem VPN device files, the config reference."""

"""Stack composition, configuration and the offline preview of hybrid-ml-platform."""

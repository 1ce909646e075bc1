"""Developer tooling for textserve: demo models, the run config, the local Ray stack."""

"""The ontology component."""

"""A small FHIR R4 sandbox EHR and dev identity provider, for demo and tests only."""

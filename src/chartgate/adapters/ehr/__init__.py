"""EHR adapters: one shared FHIR REST client, vendor profiles as data."""

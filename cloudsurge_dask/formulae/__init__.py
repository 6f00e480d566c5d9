"""Formulae: enumerated by CDK or read from a file, their sizes estimated, planned into tasks."""

"""The mirror spec (destinations.yaml) and pinned release manifests.

pydantic models validate the YAML boundary (`schema`); everything past the loader (`load`) works
with the frozen dataclasses in `model`.
"""

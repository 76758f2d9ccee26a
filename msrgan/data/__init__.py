"""Data: synthetic fields, real-image loaders, degradation, normalization, patches, HF datasets."""

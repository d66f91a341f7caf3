"""HTTP faces: the native API and the compatible dialects, each a translator to the service."""

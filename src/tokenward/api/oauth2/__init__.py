"""OAuth 2.0 token introspection (RFC 7662) and revocation (RFC 7009), thin faces on the core."""

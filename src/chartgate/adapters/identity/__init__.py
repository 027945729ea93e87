"""Token verification and the principal seam."""

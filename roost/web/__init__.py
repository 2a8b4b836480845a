"""Pages people see: signing in and letting a product into their home."""

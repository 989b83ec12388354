"""Helpers every stage may use and that use no other part of dlrun: the user-error family,
the registry pattern, plugins by entry point, config params, atomic files, numbers."""

//! Intentionally empty: this package exists only to pin the crates whose
//! sources `generate.py` reads.

"""Usage: raw, append-only events (deliveries, licensee reports, licensor logs), deduplicated per licensee."""

"""Operations: health and readiness endpoints."""

"""Operations: structured logs, request ids, security headers, health and readiness."""

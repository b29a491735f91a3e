#!/bin/sh
# Thin wrapper: ./scripts/compose.sh up|down|reset|logs|ps [docker compose options]
exec node "$(dirname "$0")/compose.mjs" "$@"

# Thin wrapper: .\scripts\compose.ps1 up|down|reset|logs|ps [docker compose options]
node (Join-Path $PSScriptRoot 'compose.mjs') @args
exit $LASTEXITCODE

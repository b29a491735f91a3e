# Sourced (not executable on purpose) by the postgres image's entrypoint before
# the .sql files: puts each role's password, read from its secret file
# (X_DB_PASSWORD_FILE, mounted by docker-compose.yml), into X_DB_PASSWORD for
# 10-wallet-databases.sql (psql \getenv). 99-forget-password-files.sh removes
# them again, so the server's environment never holds them.
wallet_read_password() {
  # $1: the variable to set; its file is in ${1}_FILE.
  wallet_file=$(eval "printf '%s' \"\${${1}_FILE:-}\"")
  if [ -z "$wallet_file" ] || [ ! -r "$wallet_file" ]; then
    echo "initdb: ${1}_FILE is not set or not readable (${wallet_file:-unset}); run npm run secrets:generate" >&2
    exit 1
  fi
  # Same rule as the services: the trimmed content is the value, never empty.
  wallet_value=$(tr -d '\r\n' < "$wallet_file" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  if [ -z "$wallet_value" ]; then
    echo "initdb: ${1}_FILE (${wallet_file}) is empty" >&2
    exit 1
  fi
  export "$1=$wallet_value"
  unset wallet_file wallet_value
}
for wallet_variable in BANK_DB_PASSWORD CARD_ADAPTER_DB_PASSWORD PAYMENT_GATEWAY_MOCK_DB_PASSWORD IDENTITY_DB_PASSWORD WEBHOOK_DB_PASSWORD; do
  wallet_read_password "$wallet_variable"
done
unset wallet_variable
unset -f wallet_read_password

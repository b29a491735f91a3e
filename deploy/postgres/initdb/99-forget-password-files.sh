# Sourced last by the postgres image's entrypoint: the role passwords read by
# 05-read-password-files.sh leave the environment before the server starts.
unset BANK_DB_PASSWORD CARD_ADAPTER_DB_PASSWORD PAYMENT_GATEWAY_MOCK_DB_PASSWORD IDENTITY_DB_PASSWORD

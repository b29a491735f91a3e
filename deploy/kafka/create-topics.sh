#!/bin/sh
# One-shot job (kafka-init in docker-compose.yml): creates the wallet's topics
# on the broker, idempotently, then exits 0. Topic names are the contracts'
# (asyncapi.yaml; OPERATIONS_TOPIC / OPERATIONS_DLQ_TOPIC in @wallet/contracts).
# npm test runs this script with a stand-in kafka-topics.sh to check its calls.
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS is required}"
PARTITIONS="${KAFKA_OPERATIONS_PARTITIONS:-3}"
TOPICS_BIN="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"

case "$PARTITIONS" in
  ''|*[!0-9]*) echo "KAFKA_OPERATIONS_PARTITIONS must be a positive integer, got '$PARTITIONS'" >&2; exit 2 ;;
esac
if [ "$PARTITIONS" -lt 1 ] || [ "$PARTITIONS" -gt 1000 ]; then
  echo "KAFKA_OPERATIONS_PARTITIONS must be 1-1000, got $PARTITIONS" >&2
  exit 2
fi

create() {
  # --if-not-exists: a restart of the stack (or of this job) is a no-op.
  "$TOPICS_BIN" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor 1 \
    --config "retention.ms=$3" --config min.insync.replicas=1
}

# Key = account id, so each account's events stay ordered within a partition.
create wallet.operations "$PARTITIONS" 604800000
# Events the analytics-service rejected (schema-invalid); kept 30 days for inspection.
create wallet.operations.dlq 1 2592000000

"$TOPICS_BIN" --bootstrap-server "$BOOTSTRAP" --describe --topic wallet.operations
echo "kafka-init: topics ready"

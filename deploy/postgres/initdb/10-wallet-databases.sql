-- Run once by the postgres image (psql, as the superuser) on an empty data
-- directory: one login role and one database per service, each service owning
-- its database so that its migrations can create its schema. Names come from
-- the container environment (docker-compose.yml/.env), passwords from the
-- secret files (05-read-password-files.sh puts them in the environment);
-- a missing one leaves `:'name'` unexpanded and stops the init with an error.
-- (npm test applies this file to a real PostgreSQL 17 to prove it.)
\getenv bank_db BANK_DB_NAME
\getenv bank_user BANK_DB_USER
\getenv bank_password BANK_DB_PASSWORD
\getenv card_db CARD_ADAPTER_DB_NAME
\getenv card_user CARD_ADAPTER_DB_USER
\getenv card_password CARD_ADAPTER_DB_PASSWORD
\getenv mock_db PAYMENT_GATEWAY_MOCK_DB_NAME
\getenv mock_user PAYMENT_GATEWAY_MOCK_DB_USER
\getenv mock_password PAYMENT_GATEWAY_MOCK_DB_PASSWORD
\getenv identity_db IDENTITY_DB_NAME
\getenv identity_user IDENTITY_DB_USER
\getenv identity_password IDENTITY_DB_PASSWORD
\getenv webhook_db WEBHOOK_DB_NAME
\getenv webhook_user WEBHOOK_DB_USER
\getenv webhook_password WEBHOOK_DB_PASSWORD

-- Connection limits: 2 bank-service replicas x pool 20 + migrations, and the
-- card adapter's pool 10 + migrations, and the payment gateway mock's pool 5
-- + migrations, stay well below max_connections.
CREATE ROLE :"bank_user" LOGIN PASSWORD :'bank_password' CONNECTION LIMIT 60;
CREATE DATABASE :"bank_db" OWNER :"bank_user";
REVOKE ALL ON DATABASE :"bank_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"bank_db" TO :"bank_user";

CREATE ROLE :"card_user" LOGIN PASSWORD :'card_password' CONNECTION LIMIT 30;
CREATE DATABASE :"card_db" OWNER :"card_user";
REVOKE ALL ON DATABASE :"card_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"card_db" TO :"card_user";

-- The payment gateway mock stands in for an external system: its own role and
-- database, so nothing of it lives in the card adapter's.
CREATE ROLE :"mock_user" LOGIN PASSWORD :'mock_password' CONNECTION LIMIT 15;
CREATE DATABASE :"mock_db" OWNER :"mock_user";
REVOKE ALL ON DATABASE :"mock_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"mock_db" TO :"mock_user";

-- The identity provider: users, refresh tokens and signing keys, in its own database.
CREATE ROLE :"identity_user" LOGIN PASSWORD :'identity_password' CONNECTION LIMIT 15;
CREATE DATABASE :"identity_db" OWNER :"identity_user";
REVOKE ALL ON DATABASE :"identity_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"identity_db" TO :"identity_user";

-- The webhook-service: endpoints (secrets encrypted at rest) and the delivery log.
CREATE ROLE :"webhook_user" LOGIN PASSWORD :'webhook_password' CONNECTION LIMIT 15;
CREATE DATABASE :"webhook_db" OWNER :"webhook_user";
REVOKE ALL ON DATABASE :"webhook_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"webhook_db" TO :"webhook_user";

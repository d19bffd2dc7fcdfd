-- deploy/compose.yml: PostgreSQL creates the billing database; Rasa's tracker store gets its own.
-- Rasa writes each turn synchronously inside its event loop: the tracker database skips waiting
-- for the disk flush, as on one machine (scripts/prod/prodstack.py); billing keeps full durability.
CREATE DATABASE rasa_tracker OWNER helpdesk;
ALTER DATABASE rasa_tracker SET synchronous_commit = off;

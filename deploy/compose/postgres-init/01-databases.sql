-- One database per service of docker-compose.yml, created when the PostgreSQL volume is new.
-- Each service applies its own schema (Alembic migrations) when it starts.
CREATE DATABASE hub;
CREATE DATABASE yamagata;
CREATE DATABASE odawara;
CREATE DATABASE fukuoka;
CREATE DATABASE nakashibetsu;
CREATE DATABASE digital_agency;
CREATE DATABASE kanagawa;

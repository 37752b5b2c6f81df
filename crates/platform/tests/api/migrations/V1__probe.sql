-- A migration of the probe service of the platform's tests; never applied (the test
-- database's marketplace schema is already past version 1).
CREATE TABLE probe (id bigint PRIMARY KEY);

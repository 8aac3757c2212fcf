// Package doctor checks a deployment's configuration against the systems it depends
// on (PostgreSQL, Keycloak, the realm's settings, the vault's keys) and says, for each
// check, what is wrong and how to fix it. `auth-manager doctor` prints the report;
// `serve` runs the same checks once at start for the auth_manager_doctor_check metric
// and a WARN per failure. It reads and never writes: no migration, no row change, no
// realm change. Its messages name settings, never their secret values.
package doctor

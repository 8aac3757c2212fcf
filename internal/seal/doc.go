// Package seal encrypts and authenticates the tokens that the vault keeps in
// auth_vault, in the format the Python service wrote (AES-256-CBC, PKCS#7, a
// fresh random IV, hex columns) plus an HMAC-SHA256 tag that binds each row to
// its key, its id, its user and its token type, so that a row edited or copied
// in the database no longer opens. It also opens the Python service's rows,
// which carry no tag, and says which rows should be sealed again under the
// current key. It must never let a key or a plaintext reach a log line, an
// error or a formatted value, never return plaintext from a row whose tag does
// not verify (nor decrypt before verifying), never tell its callers why a row
// failed to open, and never panic on what the database hands it.
package seal

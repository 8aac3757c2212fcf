package seal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Known answers computed with OpenSSL, independently of this package:
//
//	printf %s "$PLAINTEXT" | openssl enc -aes-256-cbc -K $katKey -iv $katIV | xxd -p
const (
	katKey = "9ecadbbab6007aa6bdd35aa17f1a78cc81dfb615ce84f29e17ab7d559b929055"
	katIV  = "92094bc1505aa8f246f20474d848ce1c"
	katJWT = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCIsImtpZCI6IjdjMWQyZDdlLTRiMGEtNGY2ZS05YTQzLTBkOGUzYzVmMWEyMiJ9." +
		"eyJleHAiOjE3NjcyMjU2MDAsImlhdCI6MTc2NzIyMzgwMCwianRpIjoiZTNiMGM0NDItOThmYy00MWMxLTlhZmItZjRjODk5NmZiOTI0IiwiaXNzIjoiaHR0cDovL2xvY2FsaG9zdDo4MDgwL3JlYWxtcy9kZW1vIiwiYXVkIjoiaHR0cDovL2xvY2FsaG9zdDo4MDgwL3JlYWxtcy9kZW1vIiwic3ViIjoiNWY4ZDFjMmEtM2I0ZS00ZjYwLThhNzEtOTJiM2M0ZDVlNmY3IiwidHlwIjoiUmVmcmVzaCIsImF6cCI6ImF1dGgtbWFuYWdlciIsInNpZCI6ImExYjJjM2Q0LWU1ZjYtNDA3MS04ODk5LWFhYmJjY2RkZWVmZiIsInNjb3BlIjoib3BlbmlkIHByb2ZpbGUgZW1haWwifQ." +
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw"
)

var katVectors = []struct {
	name, plaintext, ciphertext string
}{
	{"empty", "", "e862bd47006baa6b9a33c84ba16cbb56"},
	{"15 bytes", "abcdefghijklmno", "bce6177b040265d92d2a30e72d7b3a7f"},
	{"16 bytes", "abcdefghijklmnop", "c851b6867bf395e2052fc4f1cdf64dcae3b2d2979daa95fc0b6ee302757a8dc0"},
	{"17 bytes", "abcdefghijklmnopq", "c851b6867bf395e2052fc4f1cdf64dca2ee114d9dbec233044f767fff38eb68e"},
	{"jwt 614 bytes", katJWT, "" +
		"8b4c1b84beee8162010ff1806250a90017becef8c1361690e3f9ca4072f7296218eacf2f41e5c1c26d43d06c3df79d07a305e39cfabf74cef81fc2139b87ef95" +
		"f1bef19e339a10929f05b32afc80a535956cc6337578a86adb006bc6b46b77290b0e057574524e6080d555b508891dfb184d29c9a1ec6e32a216292696ab013b" +
		"6e4db6f29364da99e8277dc95c9b77aa6616c0b25320e3a72070adfb8efe0b4114284b23c04b40f83eea5ab48e8caf8f5cad10852a389c3c819838a664873a97" +
		"8987170b8a23688d11bebbad40d77e87d80c7c8e906d0f6a043f4788bc521571b8cc45f2d8641e71ddb76c38a7fc598c13444273260291e4ec695e2030baa3a9" +
		"273c1ee664ac679d28920cf6d0118aff4711e5d28fb049f9f4f5dc51ed955efd7969b1c42218b8a36a70c2b15bf2e6ad0ce8c092b29e3811473faa99b0062a12" +
		"cf6c0ebfee6e2ff9cd83d3dfdadbf2d30e8826dd6501e2721bc62932daad57d0de95bd9fff45febe3d7afa122c4be5ba704089880d26b6dc9408260c3801fe64" +
		"1688a275507917b09e22b29ec24b3613a773087deb92b32e25dcd93f0bea0a62575781fae575eb928f2eec77e549690c85eba3e2db356b8af6288174f6f54f7d" +
		"f89da057016c00fd5dfbf1c01b50926c936ac114dde08163544c352f20152d1c4eee97df0b728f2386e7d385e4df5f1044dc77850953cbfb82c6353adec38ad9" +
		"60a36083bcf4d9f8975f2ddcee53ea04a75b2bea7cfc1598c2e8971c3938a60d018a5c717faf4c0851e9a75c79cba62e44faaa1d03db91a9250cd0555528e132" +
		"102f6818021d63d4daa0272444e9c6ee0849d2a3514bcfa7035d207ddec0a5aa72f6c4f5413d672f2402e35372939409"},
}

func TestKnownAnswers(t *testing.T) {
	ring := newTestRing(t, katKey)
	id := Identity{RowID: "a", UserID: "b", TokenType: "REFRESH"}
	for _, tc := range katVectors {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := ring.Open(Sealed{Ciphertext: tc.ciphertext, IV: katIV}, Identity{})
			require.NoError(t, err)
			assert.Equal(t, tc.plaintext, string(pt))

			iv := mustHex(t, katIV)
			s, err := ring.withRand(bytes.NewReader(iv)).Seal([]byte(tc.plaintext), id)
			require.NoError(t, err)
			assert.Equal(t, tc.ciphertext, s.Ciphertext, "ciphertext column must be the Python/OpenSSL format")
			assert.Equal(t, katIV, s.IV)
			assert.Equal(t, ring.CurrentKeyID(), s.KeyID)

			pt, err = ring.Open(s, id)
			require.NoError(t, err)
			assert.Equal(t, tc.plaintext, string(pt))
		})
	}
}

func TestHash(t *testing.T) {
	// printf %s abc | sha256sum; printf '' | sha256sum
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hash([]byte("abc")))
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hash(nil))
}

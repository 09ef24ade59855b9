package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/store"
)

// devSecrets are generated on the first dev start and reused after, so
// restarts keep decrypting passwords and nodes/proxies keep their tokens.
type devSecrets struct {
	EncryptionKey string `json:"encryption_key"` // hex
	JWTKey        string `json:"jwt_key"`        // hex
	NodeToken     string `json:"node_token"`
	ProxyToken    string `json:"proxy_token"`
}

// SecretsFile is where dev mode keeps its secrets, inside the data dir.
const SecretsFile = "secrets.json"

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// loadDevSecrets fills the options' missing secrets from DataDir, creating
// and storing any that are not there yet. Values given explicitly win.
func loadDevSecrets(o *Options) error {
	path := filepath.Join(o.DataDir, SecretsFile)
	var s devSecrets
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read dev secrets: %w", err)
	}
	changed := false
	fill := func(v *string, gen func() string) {
		if *v == "" {
			*v = gen()
			changed = true
		}
	}
	fill(&s.EncryptionKey, func() string { return randomHex(32) })
	fill(&s.JWTKey, func() string { return randomHex(32) })
	fill(&s.NodeToken, func() string { return "kfn_" + auth.NewSecret() })
	fill(&s.ProxyToken, func() string { return "kfp_" + auth.NewSecret() })
	if changed {
		out, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o600); err != nil {
			return fmt.Errorf("write dev secrets: %w", err)
		}
	}
	if o.EncryptionKey == nil {
		if o.EncryptionKey, err = hex.DecodeString(s.EncryptionKey); err != nil {
			return fmt.Errorf("%s: encryption_key: %w", path, err)
		}
	}
	if o.JWTKey == nil {
		if o.JWTKey, err = hex.DecodeString(s.JWTKey); err != nil {
			return fmt.Errorf("%s: jwt_key: %w", path, err)
		}
	}
	if o.NodeToken == "" {
		o.NodeToken = s.NodeToken
	}
	if o.ProxyToken == "" {
		o.ProxyToken = s.ProxyToken
	}
	return nil
}

// FirstAdminEmail is the e-mail of the administrator dev mode creates.
const FirstAdminEmail = "admin@keyfleet.local"

// ensureFirstAdmin creates an administrator when there is no account at
// all and prints its password, once: it is not stored anywhere in clear.
func ensureFirstAdmin(ctx context.Context, st *store.Store, password string, out io.Writer) error {
	has, err := st.HasAccounts(ctx)
	if err != nil || has {
		return err
	}
	if password == "" {
		password = auth.NewSecret()[:20]
	}
	hash, err := auth.Passwords{Cost: bcrypt.DefaultCost}.Hash(password)
	if err != nil {
		return err
	}
	if _, _, err := st.CreateAccount(ctx, FirstAdminEmail, hash, store.RoleAdmin, nil); err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	fmt.Fprintf(out, "\nKeyfleet: created the first administrator (shown only now):\n  e-mail:   %s\n  password: %s\n\n", FirstAdminEmail, password)
	return nil
}

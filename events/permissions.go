package events

import (
	"fmt"

	"github.com/gavelrtc/gavel/core"
)

// AppendPermissions appends one preset's permissions as a JSON object with
// only the permissions it grants, as inside AppendPresets:
// {"disable_participant_audio":true,…}.
func AppendPermissions(dst []byte, p core.Permissions) []byte {
	dst = append(dst, '{')
	first := true
	for _, perm := range permissionFields(p) {
		if !perm.granted {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, perm.name)
		dst = append(dst, ":true"...)
	}
	return append(dst, '}')
}

// DecodePermissions decodes one preset's permissions; a permission the object
// does not name is false.
func DecodePermissions(b []byte) (core.Permissions, error) {
	p, err := permissionsObject(b)
	if err != nil {
		return core.Permissions{}, fmt.Errorf("permissions: %w", err)
	}
	return p, nil
}

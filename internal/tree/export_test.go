package tree

// IsPrint exposes the Go 1.19 printability table to the black-box tests.
var IsPrint = isPrint

// AppendQuotedName and AppendString expose the two string encoders.
var (
	AppendQuotedName = appendQuotedName
	AppendString     = appendString
)

// DecodeText decodes a JSON string literal as Decode does for strings other
// than the name.
func DecodeText(b []byte) (string, error) {
	var t text
	err := t.UnmarshalJSON(b)
	return string(t), err
}

// DecodeFast and DecodeJSON are Decode's two paths; ErrNotFast is what the
// first returns for what it leaves to the second.
var (
	DecodeFast = decodeFast
	DecodeJSON = decodeJSON
	ErrNotFast = errNotFast
)

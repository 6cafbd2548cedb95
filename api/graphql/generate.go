package graphql

// gqlgen is a tool of the module (go.mod's tool line pins its version).
//go:generate go tool gqlgen generate --config gqlgen.yml

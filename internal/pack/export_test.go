package pack

// Exported for the black-box tests in package pack_test.
var AppendHeader = appendHeader

const EagerSize = eagerSize

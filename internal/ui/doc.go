// Package ui is how the command line shows and reads human quantities:
// byte counts with binary units, and sizes with K, M, G or T suffixes. The
// progress contract comes here next.
package ui

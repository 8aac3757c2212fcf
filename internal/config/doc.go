// Package config loads the service's configuration once, from the environment and an
// optional .env file, into a Config value that is passed down explicitly.
//
// It is the only place that reads environment variables. It must never print a
// secret: secret fields are of type Secret, which redacts itself in every format.
package config

import KubeClient

// This file imports KubeClient but not NIOSSL, so the names resolve to the client's types (NIOSSL has a
// TLSConfiguration of its own, and the module KubeClient is shadowed by the class of that name).
typealias ClientTLSConfiguration = TLSConfiguration

module vsbench.test/openfaasclient

go 1.22

require github.com/openfaas/faas-provider v0.25.4

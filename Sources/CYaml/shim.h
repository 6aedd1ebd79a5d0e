#ifndef SALESPOT_CYAML_SHIM_H
#define SALESPOT_CYAML_SHIM_H
#include <yaml.h>
#endif

#ifndef NATSCOPE_CPCAP_SHIM_H
#define NATSCOPE_CPCAP_SHIM_H
#include <stdio.h>
#include <pcap/pcap.h>
#endif

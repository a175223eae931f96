/* dp_files.h — where tide finds its own files: the demo traffic and the classification
 * configuration, whether it runs from a build directory, a source tree or an installation.
 * One place for the command line and the drone. */
#ifndef DP_FILES_H
#define DP_FILES_H

/* The demo capture: TIDE_DEMO_PCAP, config/demo.pcap beside the build or installed
 * (share/tide/demo.pcap). NULL when none exists. */
const char *dp_find_demo_pcap(void);

/* config/: `given` when not NULL, TIDE_CONFIG_DIR, next to the build (../config), installed
 * (share/tide/config), the source tree, else /etc/tide. */
const char *dp_find_config_dir(const char *given);

#endif

# QEMU's x86_64 device set for nestbox (configure --without-default-devices
# --with-devices-x86_64=nestbox): the two PC machines and the devices L2
# guests use. Everything the machines `select` comes along (ISA serial, RTC,
# PIIX IDE for i440fx, ICH9 AHCI for q35, fw_cfg, ACPI); nothing they only
# `imply` (VGA, e1000, IPMI, TPM, ...).
CONFIG_I440FX=y
CONFIG_Q35=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SCSI=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_BALLOON=y
# PCIe root ports and PCI bridges, for more devices (and hotplug) on q35.
CONFIG_PCIE_PORT=y
CONFIG_PCI_BRIDGE=y
# The guest can report a panic (pvpanic), the host sees it in QMP.
CONFIG_PVPANIC_ISA=y

/*
 * tools/: the programs other than PID 1 in the one static binary, chosen by
 * the name it is called as (main.c): the `nestbox` command and its serial
 * shell, `nestbox check`, nestbox-fetch and udhcpc's dhcp-hook. Each returns
 * its exit status.
 */
#ifndef NESTBOX_TOOLS_H
#define NESTBOX_TOOLS_H

int	 control_main(int argc, char *argv[]);		/* nestbox VERB [NAME] */
int	 guests_check_main(int argc, char *argv[]);	/* nestbox check FILE */
int	 fetch_main(int argc, char *argv[]);		/* nestbox-fetch [OPTIONS] SOURCE|- DEST [SHA256] */
int	 dhcp_hook_main(int argc, char *argv[]);	/* udhcpc's script */
/* inspect.c: a downloaded image, by qemu-img info; an enum fetch_status */
int	 image_inspect(const char *qemu_img, const char *path, unsigned secs, char *why,
	    size_t size);

#endif /* NESTBOX_TOOLS_H */

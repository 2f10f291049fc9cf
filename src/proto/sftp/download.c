/* placeholder: being written */
typedef int scp_placeholder_dl;
